import { Inject } from '@nestjs/common';
import { Args, Int, Mutation, Query, Resolver } from '@nestjs/graphql';
import { Access } from '../auth/access.decorator.js';
import { CurrentPrincipal } from '../auth/current-principal.decorator.js';
import type { Principal } from '../auth/principal.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { AlertsService } from './alerts.service.js';
import { parseAlertsPage, parseBalanceSettingsPatch } from './domain/alert-commands.js';
import { BalanceSettingsService } from './balance-settings.service.js';
import { BalanceSettingsInput } from './dto/balance-settings.input.js';
import { AlertModel, toAlertModel } from './models/alert.model.js';
import { BalanceSettingsModel } from './models/balance-settings.model.js';

@Resolver()
export class AlertsResolver {
  constructor(
    private readonly alertsService: AlertsService,
    private readonly settings: BalanceSettingsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Query(() => BalanceSettingsModel, { description: "A buyer's low-balance, auto-refill and webhook settings (all null when unset)." })
  @Access('BUYER')
  balanceSettings(@CurrentPrincipal() principal: Principal): Promise<BalanceSettingsModel> {
    return this.settings.get(principal.organizationId);
  }

  @Mutation(() => BalanceSettingsModel, { description: 'A field left out keeps its value; null clears it.' })
  @Access('BUYER')
  updateBalanceSettings(@CurrentPrincipal() principal: Principal, @Args('input') input: BalanceSettingsInput): Promise<BalanceSettingsModel> {
    return this.settings.update(principal.organizationId, parseBalanceSettingsPatch(input, this.config.allowPrivateUrls));
  }

  @Query(() => [AlertModel], { description: 'Your alerts, newest first; `first` is 50 by default, at most 200.' })
  @Access('BUYER', 'LENDER')
  async alerts(@CurrentPrincipal() principal: Principal, @Args('first', { type: () => Int, nullable: true }) first?: number | null): Promise<AlertModel[]> {
    return (await this.alertsService.list(principal.organizationId, parseAlertsPage(first))).map(toAlertModel);
  }
}

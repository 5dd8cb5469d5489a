import { Args, Mutation, Resolver } from '@nestjs/graphql';
import { Access } from '../auth/access.decorator.js';
import { CurrentPrincipal } from '../auth/current-principal.decorator.js';
import type { Principal } from '../auth/principal.js';
import { CreditsService } from '../credits/index.js';
import { parsePurchaseCommand } from './domain/purchase-command.js';
import { PurchaseCreditsInput, PurchaseModel, toPurchaseModel } from './models/purchase.model.js';
import { PurchasesService } from './purchases.service.js';

@Resolver(() => PurchaseModel)
export class PurchasesResolver {
  constructor(
    private readonly purchases: PurchasesService,
    private readonly credits: CreditsService,
  ) {}

  @Mutation(() => PurchaseModel, { description: 'Buys standard credits from the wallet at the current price.' })
  @Access('BUYER')
  async purchaseCredits(@CurrentPrincipal() principal: Principal, @Args('input') input: PurchaseCreditsInput): Promise<PurchaseModel> {
    const { purchase, block } = await this.purchases.purchase(parsePurchaseCommand(principal.organizationId, input));
    return toPurchaseModel(purchase, await this.credits.view(block));
  }
}

import { Inject } from '@nestjs/common';
import { Args, ID, Mutation, Query, Resolver } from '@nestjs/graphql';
import { Access } from '../auth/access.decorator.js';
import { CurrentPrincipal } from '../auth/current-principal.decorator.js';
import type { Principal } from '../auth/principal.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { parseReserveCommand } from './domain/reserve-command.js';
import { ReservationModel, ReserveCreditsInput, toReservationModel } from './models/reservation.model.js';
import { ReservationsService } from './reservations.service.js';

@Resolver(() => ReservationModel)
export class ReservationsResolver {
  constructor(
    private readonly service: ReservationsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Query(() => [ReservationModel], { description: "A buyer's reservations (the operator sees all)." })
  @Access('BUYER', 'OPERATOR')
  async reservations(@CurrentPrincipal() principal: Principal): Promise<ReservationModel[]> {
    const list = await this.service.list(principal.role === 'OPERATOR' ? null : principal.organizationId);
    return list.map((r) => toReservationModel(r, this.service.earlyTerminationFee(r)));
  }

  @Mutation(() => ReservationModel, { description: 'Commits to creditsPerMonth for termMonths at a locked, discounted price.' })
  @Access('BUYER')
  async reserveCredits(@CurrentPrincipal() principal: Principal, @Args('input') input: ReserveCreditsInput): Promise<ReservationModel> {
    const r = await this.service.reserve(parseReserveCommand(principal.organizationId, input, this.config.rules.reservations.maxTermMonths));
    return toReservationModel(r, this.service.earlyTerminationFee(r));
  }

  @Mutation(() => ReservationModel, { description: 'Cancels early: charges the early termination fee, releases undelivered capacity.' })
  @Access('BUYER')
  async cancelReservation(@CurrentPrincipal() principal: Principal, @Args('id', { type: () => ID }) id: string): Promise<ReservationModel> {
    const r = await this.service.cancel(principal.organizationId, id);
    return toReservationModel(r, this.service.earlyTerminationFee(r));
  }
}

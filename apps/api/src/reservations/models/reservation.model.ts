import { Field, ID, InputType, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { formatAmount } from '@ccx/core';
import { DecimalScalar } from '../../graphql/decimal.scalar.js';
import type { Decimal } from '@ccx/core';
import { ReservationStatus } from '../domain/reservation-status.js';
import type { ReservationEntity } from '../reservation.entity.js';

registerEnumType(ReservationStatus, { name: 'ReservationStatus' });

@ObjectType('Reservation')
export class ReservationModel {
  @Field(() => ID)
  id: string;

  @Field(() => DecimalScalar)
  creditsPerMonth: string;

  @Field(() => Int)
  termMonths: number;

  @Field(() => DecimalScalar, { description: 'Locked unit price (after the term discount).' })
  unitPrice: string;

  @Field(() => DecimalScalar)
  discountRate: string;

  @Field(() => DecimalScalar, { description: 'What each monthly delivery charges: creditsPerMonth × unitPrice, cents.' })
  monthlyCharge: string;

  @Field(() => Int)
  monthsDelivered: number;

  @Field(() => ReservationStatus)
  status: ReservationStatus;

  @Field(() => Date, { nullable: true })
  nextDeliveryAt: Date | null;

  @Field(() => DecimalScalar, {
    description: 'Cancelling early: what cancelling now would charge (ACTIVE, PAST_DUE), what was charged (CANCELLED), 0.00 (COMPLETED).',
  })
  earlyTerminationFee: string;

  @Field(() => Date)
  createdAt: Date;
}

@InputType()
export class ReserveCreditsInput {
  @Field(() => DecimalScalar)
  creditsPerMonth: string;

  @Field(() => Int, { description: '1 to 36 months.' })
  termMonths: number;

  @Field()
  idempotencyKey: string;
}

/** `fee`: the early termination fee as the service reads it (earlyTerminationFee). */
export function toReservationModel(r: ReservationEntity, fee: Decimal): ReservationModel {
  return {
    id: r.id,
    creditsPerMonth: formatAmount(r.creditsPerMonth, 6),
    termMonths: r.termMonths,
    unitPrice: formatAmount(r.unitPrice, 6),
    discountRate: r.discountRate.toFixed(2),
    monthlyCharge: formatAmount(r.creditsPerMonth.times(r.unitPrice).decimalPlaces(2), 2),
    monthsDelivered: r.monthsDelivered,
    status: r.status,
    nextDeliveryAt: r.nextDeliveryAt,
    earlyTerminationFee: formatAmount(fee, 2),
    createdAt: r.createdAt,
  };
}

import { PageInfo } from '../../graphql/page-info.js';
import { Field, ID, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { formatAmount, type Decimal } from '@ccx/core';
import { DecimalScalar } from '../../graphql/decimal.scalar.js';
import { OrganizationModel } from '../../organizations/index.js';
import { ListingStatus } from '../domain/listing-status.js';
import { availableCredits, effectiveStatus, type ListingEntity } from '../listing.entity.js';

registerEnumType(ListingStatus, { name: 'ListingStatus' });

@ObjectType('Listing')
export class ListingModel {
  @Field(() => ID)
  id: string;

  /** Resolved by ListingsResolver.seller (batched). */
  @Field(() => OrganizationModel)
  seller?: OrganizationModel;

  sellerId: string;

  @Field()
  gpuType: string;

  @Field()
  region: string;

  @Field(() => DecimalScalar)
  gpuHours: string;

  @Field(() => DecimalScalar)
  wholesalePricePerGpuHour: string;

  @Field(() => DecimalScalar, { description: 'wholesalePricePerGpuHour ÷ creditsPerGpuHour, 6 decimals.' })
  wholesaleCostPerCredit: string;

  @Field(() => DecimalScalar, { description: 'The GPU type figure when this was listed.' })
  creditsPerGpuHour: string;

  @Field(() => DecimalScalar)
  totalCredits: string;

  @Field(() => DecimalScalar)
  allocatedCredits: string;

  @Field(() => DecimalScalar, { description: 'Still on the market (0 once withdrawn or expired).' })
  availableCredits: string;

  @Field(() => Date)
  availableFrom: Date;

  @Field(() => Date)
  availableUntil: Date;

  @Field(() => ListingStatus)
  status: ListingStatus;

  @Field(() => Date)
  createdAt: Date;
}


@ObjectType()
export class ListingEdge {
  @Field()
  cursor: string;

  @Field(() => ListingModel)
  node: ListingModel;
}

@ObjectType()
export class ListingConnection {
  @Field(() => [ListingEdge])
  edges: ListingEdge[];

  @Field(() => PageInfo)
  pageInfo: PageInfo;

  @Field(() => Int)
  totalCount: number;
}

const credits = (d: Decimal) => formatAmount(d, 6);

export function toListingModel(l: ListingEntity, now: Date): ListingModel {
  return {
    id: l.id,
    sellerId: l.sellerId,
    gpuType: l.gpuType,
    region: l.region,
    gpuHours: l.gpuHours.toFixed(),
    wholesalePricePerGpuHour: l.wholesalePricePerGpuHour.toFixed(),
    wholesaleCostPerCredit: formatAmount(l.wholesaleCostPerCredit, 6),
    creditsPerGpuHour: l.creditsPerGpuHour.toFixed(),
    totalCredits: credits(l.totalCredits),
    allocatedCredits: credits(l.allocatedCredits),
    availableCredits: credits(availableCredits(l)),
    availableFrom: l.availableFrom,
    availableUntil: l.availableUntil,
    status: effectiveStatus(l, now),
    createdAt: l.createdAt,
  };
}


import { Field, ID, ObjectType, registerEnumType } from '@nestjs/graphql';
import { AlertKind } from '../domain/alert-kind.js';
import type { AlertEntity } from '../alert.entity.js';

registerEnumType(AlertKind, { name: 'AlertKind' });

@ObjectType('Alert')
export class AlertModel {
  @Field(() => ID)
  id: string;

  @Field(() => AlertKind)
  kind: AlertKind;

  @Field()
  message: string;

  @Field(() => Date)
  createdAt: Date;
}

export function toAlertModel(a: AlertEntity): AlertModel {
  return { id: a.id, kind: a.kind, message: a.message, createdAt: a.createdAt };
}

import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CreditsModule } from '../credits/index.js';
import { ListingsModule } from '../listings/index.js';
import { OrganizationsModule } from '../organizations/index.js';
import { ReservationEntity } from './reservation.entity.js';
import { ReservationsResolver } from './reservations.resolver.js';
import { ReservationsService } from './reservations.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([ReservationEntity]), CreditsModule, ListingsModule, OrganizationsModule],
  providers: [ReservationsService, ReservationsResolver],
  exports: [ReservationsService],
})
export class ReservationsModule {}

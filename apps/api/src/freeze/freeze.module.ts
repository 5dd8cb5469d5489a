import { Module } from '@nestjs/common';
import { AlertsModule } from '../alerts/index.js';
import { CreditsModule } from '../credits/index.js';
import { TypeOrmModule } from '@nestjs/typeorm';
import { FreezeEventEntity } from './freeze-event.entity.js';
import { FreezeService } from './freeze.service.js';
import { RecoveryEntity } from './recovery.entity.js';

@Module({
  imports: [TypeOrmModule.forFeature([FreezeEventEntity, RecoveryEntity]), AlertsModule, CreditsModule],
  providers: [FreezeService],
  exports: [FreezeService],
})
export class FreezeModule {}

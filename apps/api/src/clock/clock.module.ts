import { Global, Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { ClockRefreshInterceptor } from './clock-refresh.interceptor.js';
import { ClockResolver } from './clock.resolver.js';
import { ClockService } from './clock.service.js';

@Global()
@Module({ providers: [ClockService, ClockResolver, { provide: APP_INTERCEPTOR, useClass: ClockRefreshInterceptor }], exports: [ClockService] })
export class ClockModule {}

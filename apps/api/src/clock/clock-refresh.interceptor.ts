import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { from, switchMap, type Observable } from 'rxjs';
import { ClockService } from './clock.service.js';

/**
 * With the test clock, another API process may have advanced it: re-read the shared instant once
 * per request before any rule is judged. (A no-op on the system clock.)
 */
@Injectable()
export class ClockRefreshInterceptor implements NestInterceptor {
  constructor(private readonly clock: ClockService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (!this.clock.isTestClock) return next.handle();
    // Health and metrics judge no business rule: they must answer from their own checks, even
    // when the database is down.
    if (context.getType() === 'http') {
      const path: string = context.switchToHttp().getRequest().path ?? '';
      if (path.startsWith('/health') || path.startsWith('/metrics')) return next.handle();
    }
    return from(this.clock.refresh()).pipe(switchMap(() => next.handle()));
  }
}

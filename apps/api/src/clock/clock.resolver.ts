import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { ClockService } from './clock.service.js';
import { Access } from '../auth/access.decorator.js';

@Resolver()
export class ClockResolver {
  constructor(private readonly clockService: ClockService) {}

  @Query(() => Date, { description: 'The business clock: the instant every rule is judged at.' })
  @Access('PUBLIC')
  async clock(): Promise<Date> {
    await this.clockService.refresh();
    return this.clockService.now();
  }

  @Mutation(() => Date, { description: 'Operator only, with CCX_TEST_CLOCK=true: moves the test clock forward and runs servicing.' })
  @Access('OPERATOR')
  advanceTestClock(@Args('to', { type: () => Date }) to: Date): Promise<Date> {
    return this.clockService.advanceTo(to);
  }
}

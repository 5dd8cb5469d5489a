import { Ledger1763700000000, LedgerGenericPlans1763700000021, LedgerPostedId1763700000022, LedgerGrowShards1763700000020, LedgerHoldsBulk1763700000018, LedgerPostFunction1763700000006, LedgerPostOne1763700000016 } from '@ccx/ledger';
import { BusinessClock1763700000001 } from './1763700000001-business-clock.js';
import { Marketplace1763700000002 } from './1763700000002-marketplace.js';
import { Financing1763700000003 } from './1763700000003-financing.js';
import { Usage1763700000004 } from './1763700000004-usage.js';
import { Alerts1763700000005 } from './1763700000005-alerts.js';
import { Gateway1763700000007 } from './1763700000007-gateway.js';
import { Correctness1763700000008 } from './1763700000008-correctness.js';
import { GatewayBreakerOrder1763700000010 } from './1763700000010-gateway-breaker-order.js';
import { FreeUsage1763700000012 } from './1763700000012-free-usage.js';
import { Console1763700000011 } from './1763700000011-console.js';
import { GatewayCycle1763700000018 } from './1763700000018-gateway-cycle.js';
import { MonthlyPartitions1763700000017 } from './1763700000017-monthly-partitions.js';
import { BurnDownIndex1763700000019 } from './1763700000019-burn-down-index.js';
import { UsageChargeBegin1763700000020 } from './1763700000020-usage-charge-begin.js';
import { GenericPlans1763700000021 } from './1763700000021-generic-plans.js';

/** Every migration, in order. Listed explicitly so that tests (TypeScript) and the built server
 * (JavaScript) load the same classes without file globs. Never edit one that has landed. The
 * ledger's own (its tables and posting functions) live in libs/ledger/migrations. */
export const migrations = [Ledger1763700000000, BusinessClock1763700000001, Marketplace1763700000002, Financing1763700000003, Usage1763700000004, Alerts1763700000005, LedgerPostFunction1763700000006, Gateway1763700000007, Correctness1763700000008, GatewayBreakerOrder1763700000010, Console1763700000011, FreeUsage1763700000012, LedgerPostOne1763700000016, MonthlyPartitions1763700000017, LedgerHoldsBulk1763700000018, GatewayCycle1763700000018, BurnDownIndex1763700000019, LedgerGrowShards1763700000020, UsageChargeBegin1763700000020, LedgerGenericPlans1763700000021, GenericPlans1763700000021, LedgerPostedId1763700000022];

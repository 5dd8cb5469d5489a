import { join } from 'node:path';
import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { RestExceptionFilter } from './http/rest-exception.filter.js';
import { GraphQLModule } from '@nestjs/graphql';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { AppConfig } from './config/app-config.js';
import { AppConfigModule } from './config/config.module.js';
import { dataSourceOptions } from './database/data-source.js';
import { DateTimeScalar } from './graphql/date-time.scalar.js';
import { formatGraphqlError } from './graphql/format-error.js';
import { graphqlLimitRules } from './graphql/limits/graphql-limits.js';
import { DocumentCache } from './graphql/document-cache.js';
import { RateLimitModule } from './rate-limit/rate-limit.module.js';
import { AuthModule } from './auth/auth.module.js';
import { ClockModule } from './clock/clock.module.js';
import { HealthController } from './health/health.controller.js';
import { IntegrityModule } from './integrity/integrity.module.js';
import { LedgerModule } from './ledger/ledger.module.js';
import { OrganizationsModule } from './organizations/organizations.module.js';
import { ApiKeysService } from './organizations/api-keys.service.js';
import { WalletsModule } from './wallets/wallets.module.js';
import { CatalogModule } from './catalog/catalog.module.js';
import { ListingsModule } from './listings/listings.module.js';
import { PricingModule } from './pricing/pricing.module.js';
import { CreditsModule } from './credits/credits.module.js';
import { PurchasesModule } from './purchases/purchases.module.js';
import { ReservationsModule } from './reservations/reservations.module.js';
import { ServicingModule } from './servicing/servicing.module.js';
import { FacilitiesModule } from './facilities/facilities.module.js';
import { FreezeModule } from './freeze/freeze.module.js';
import { AlertsModule } from './alerts/alerts.module.js';
import { LoggerModule } from 'nestjs-pino';
import { ObservabilityModule } from './observability/observability.module.js';
import { loggingParams } from './observability/logging.js';
import { UsageModule } from './usage/usage.module.js';
import { GatewayModule } from './gateway/gateway.module.js';
import { FinancingRequestsModule } from './financing-requests/index.js';
import { StatementsModule } from './statements/statements.module.js';
import { PayoutsModule } from './payouts/payouts.module.js';
import { ConsoleModule } from './console/console.module.js';

export interface AppModuleOptions {
  config: AppConfig;
  databaseUrl: string;
  /** Where schema.gql is written (development and test). */
  schemaFile?: string;
}

@Module({})
export class AppModule {
  static forRoot(options: AppModuleOptions): DynamicModule {
    const { config } = options;
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
        LoggerModule.forRoot(loggingParams(config)),
        ObservabilityModule,
        TypeOrmModule.forRoot({ ...dataSourceOptions(options.databaseUrl, { logErrors: config.nodeEnv !== 'test' }), autoLoadEntities: true }),
        GraphQLModule.forRoot<ApolloDriverConfig>({
          driver: ApolloDriver,
          autoSchemaFile: config.writeSchemaFile ? (options.schemaFile ?? join(process.cwd(), 'schema.gql')) : true,
          sortSchema: true,
          path: '/graphql',
          // Introspection follows CCX_GRAPHQL_INTROSPECTION (default: off in production only);
          // so does the explorer, but Apollo's landing page loads GraphiQL from a CDN: the
          // console's bundled GraphiQL answers browsers instead (ConsoleModule).
          graphiql: false,
          playground: false,
          introspection: config.graphqlIntrospection,
          // Apollo's default, stated: a JSON array body (a batch) is refused with 400, so one
          // request is one operation and the limits below bound each request.
          allowBatchedHttpRequests: false,
          validationRules: graphqlLimitRules(config.graphqlLimits),
          // Parsed operations kept by size (4 MiB as JSON), not Apollo's default 30 MiB (~130 MiB of heap).
          documentStore: new DocumentCache(),
          includeStacktraceInErrorResponses: false,
          formatError: formatGraphqlError,
          context: ({ req, res }: { req: unknown; res: unknown }) => ({ req, res }),
        }),
        LedgerModule,
        // Keys belong to organizations; auth reads them through its ApiKeyAuthenticator port.
        AuthModule.forRoot({ imports: [OrganizationsModule], authenticator: ApiKeysService }),
        RateLimitModule,
        ClockModule,
        IntegrityModule,
        OrganizationsModule,
        WalletsModule,
        CatalogModule,
        ListingsModule,
        PricingModule,
        CreditsModule,
        PurchasesModule,
        ReservationsModule,
        FreezeModule,
        FacilitiesModule,
        UsageModule,
        GatewayModule,
        ServicingModule,
        AlertsModule,
        FinancingRequestsModule,
        StatementsModule,
        PayoutsModule,
        ConsoleModule.forRoot(),
      ],
      providers: [DateTimeScalar, { provide: APP_FILTER, useClass: RestExceptionFilter }],
      controllers: [HealthController],
    };
  }
}

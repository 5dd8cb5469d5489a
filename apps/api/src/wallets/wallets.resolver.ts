import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { Access } from '../auth/access.decorator.js';
import { CurrentPrincipal } from '../auth/current-principal.decorator.js';
import type { Principal } from '../auth/principal.js';
import { parseRecordDeposit } from './domain/deposit-command.js';
import { RecordDepositInput } from './dto/record-deposit.input.js';
import { WalletModel } from './models/wallet.model.js';
import { WalletsService } from './wallets.service.js';

@Resolver(() => WalletModel)
export class WalletsResolver {
  constructor(private readonly wallets: WalletsService) {}

  @Query(() => WalletModel, { description: "The caller's USD wallet." })
  @Access('AUTHENTICATED')
  wallet(@CurrentPrincipal() principal: Principal): Promise<WalletModel> {
    return this.wallets.walletOf(principal.organizationId);
  }

  @Mutation(() => WalletModel, { description: 'Operator: records a confirmed payment into a wallet (a reference applies once).' })
  @Access('OPERATOR')
  recordDeposit(@Args('input') input: RecordDepositInput): Promise<WalletModel> {
    return this.wallets.recordDeposit(parseRecordDeposit(input));
  }
}

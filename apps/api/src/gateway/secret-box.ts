import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';

const NONCE = 12;
const TAG = 16;

/**
 * Encrypts providers' upstream API keys at rest with AES-256-GCM (a fresh 96-bit nonce per key,
 * the tag authenticates). The key comes from CCX_GATEWAY_SECRET_KEY; in development and test a
 * key file is created once beside the embedded database's folder (mode 0600), so every process
 * started from the same checkout reads the same key. Production refuses to start without one.
 */
@Injectable()
export class SecretBox implements OnModuleInit {
  private readonly logger = new Logger('SecretBox');
  private key: Buffer | null = null;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  async onModuleInit(): Promise<void> {
    this.key = this.config.gateway.secretKey ?? (await this.developmentKey());
  }

  seal(plaintext: string): Buffer {
    const nonce = randomBytes(NONCE);
    const cipher = createCipheriv('aes-256-gcm', this.requireKey(), nonce);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([nonce, body, cipher.getAuthTag()]);
  }

  open(sealed: Buffer): string {
    const decipher = createDecipheriv('aes-256-gcm', this.requireKey(), sealed.subarray(0, NONCE));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
    return Buffer.concat([decipher.update(sealed.subarray(NONCE, sealed.length - TAG)), decipher.final()]).toString('utf8');
  }

  private requireKey(): Buffer {
    if (!this.key) throw new Error('the gateway secret key is not loaded');
    return this.key;
  }

  private async developmentKey(): Promise<Buffer> {
    const file = join(dirname(this.config.dataDir), 'gateway-secret.key');
    await mkdir(dirname(file), { recursive: true });
    try {
      // `wx`: of two processes starting together, one creates it and both read the same key.
      await writeFile(file, randomBytes(32).toString('hex') + '\n', { flag: 'wx', mode: 0o600 });
      this.logger.log(`created a development gateway key in ${file} (set CCX_GATEWAY_SECRET_KEY in production)`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const text = (await readFile(file, 'utf8')).trim();
    if (!/^[0-9a-fA-F]{64}$/.test(text)) throw new Error(`${file} does not hold a 64-hex-character key`);
    return Buffer.from(text, 'hex');
  }
}

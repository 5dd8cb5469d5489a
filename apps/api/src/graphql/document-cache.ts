import type { DocumentNode } from 'graphql';

/** 4 MiB of documents as JSON: about 1,000 operations of a usual size (~17 MiB of heap). */
const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;

/**
 * Apollo's store of parsed and validated operations (its `documentStore`), so a known operation is
 * not parsed and validated again. Apollo's default holds up to 30 MiB measured as the documents'
 * JSON, but a parsed document takes about four times its JSON on the heap (locations, tokens):
 * up to ~130 MiB, which anyone can fill by sending distinct query texts. This one measures the
 * same way and keeps at most `maxBytes`, the least recently used dropped first. A dropped
 * operation is simply parsed and validated again: the answer is the same.
 */
export class DocumentCache {
  private readonly entries = new Map<string, { document: DocumentNode; bytes: number }>();
  private held = 0;

  constructor(readonly maxBytes = DEFAULT_MAX_BYTES) {}

  /** Bytes (as JSON) of the documents held. */
  get bytes(): number {
    return this.held;
  }

  get size(): number {
    return this.entries.size;
  }

  async get(key: string): Promise<DocumentNode | undefined> {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    // Re-inserted: a Map iterates in insertion order, so the first entry is the least recently used.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.document;
  }

  async set(key: string, document: DocumentNode): Promise<void> {
    this.remove(key);
    const bytes = Buffer.byteLength(JSON.stringify(document));
    if (bytes > this.maxBytes) return;
    this.entries.set(key, { document, bytes });
    this.held += bytes;
    for (const [oldest, entry] of this.entries) {
      if (this.held <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.held -= entry.bytes;
    }
  }

  async delete(key: string): Promise<boolean> {
    return this.remove(key);
  }

  private remove(key: string): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    this.entries.delete(key);
    this.held -= entry.bytes;
    return true;
  }
}

/** The catalog module's public API: other modules import from here, never from its files. */
export { CatalogModule } from './catalog.module.js';
export { CatalogService } from './catalog.service.js';

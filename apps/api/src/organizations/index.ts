/** The organizations module's public API: other modules import from here, never from its files. */
export { ApiKeysService } from './api-keys.service.js';
export type { OrganizationFacts } from './domain/organization-facts.js';
export { OrganizationModel, toOrganizationModel } from './models/organization.model.js';
export { OrganizationLoader } from './organization.loader.js';
export { OrganizationsModule } from './organizations.module.js';
export { OrganizationsService } from './organizations.service.js';

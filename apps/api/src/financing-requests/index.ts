export { FinancingRequestsModule } from './financing-requests.module.js';
export { FinancingRequestsService } from './financing-requests.service.js';

/** The control plane's REST API (fastify), its error mapping and its OpenAPI document. */
export { buildControlApi, CONTROL_API_VERSION, OPENAPI_INFO, type ControlApiOptions } from './api_server.ts';
export { httpError, statusForCode, LEADER_HEADER } from './http_status.ts';

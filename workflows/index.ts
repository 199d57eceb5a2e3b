// Every workflow the worker runs (the bundle's entry point).
export { deploymentWorkflow } from './deployment.workflow.ts';
export { secretRotationWorkflow } from './rotation.workflow.ts';
export { previewExpiryWorkflow } from './preview.workflow.ts';
export { notificationDeliveryWorkflow } from './notification.workflow.ts';

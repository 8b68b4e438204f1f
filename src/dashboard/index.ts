/**
 * The release dashboard (`updraft dashboard`): apps, channels and releases of a repository,
 * adoption from access logs and health reports, and actions on rollouts when keys are at hand.
 * @packageDocumentation
 */
export { cliCommandOf, type DashboardAction, type DashboardActions } from "./actions.js";
export { type AdoptionView, adoptionOf, type VersionSeries } from "./adoption.js";
export {
  type AppView,
  type ChannelView,
  type DeltaView,
  type ExpiryView,
  type ReleaseView,
  type RolloutView,
  readAppView,
} from "./model.js";
export { publisherActions } from "./publisher-actions.js";
export { createDashboard, type Dashboard, type DashboardOptions } from "./server.js";

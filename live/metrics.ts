// The event hub's Prometheus metrics, read from its figures when /metrics is scraped (nothing is
// counted twice: the hub keeps the counters, these only report them).
import { Counter, Gauge, type Registry } from 'prom-client';

/** What the metrics read from a hub (live/hub.ts's EventHub). */
export interface MeteredHub {
  stats(): { deploymentSubscribers: number; projectSubscribers: number };
  readonly counters: { notifications: number; loads: number; delivered: number; dropped: number; relistens: number };
}

/** The hub's figures on /metrics, read when scraped. */
export function registerHubMetrics(registry: Registry, hub: MeteredHub) {
  new Gauge({
    name: 'stageplane_subscriptions',
    help: 'Open subscriptions in this process, by field',
    labelNames: ['field'],
    registers: [registry],
    collect() {
      const stats = hub.stats();
      this.set({ field: 'deploymentEvents' }, stats.deploymentSubscribers);
      this.set({ field: 'projectEvents' }, stats.projectSubscribers);
    },
  });
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  counter('stageplane_event_notifications_total', 'Event notifications received on LISTEN', () => hub.counters.notifications);
  counter(
    'stageplane_event_loads_total',
    'Queries that loaded notified events (one per batch, whatever the subscribers)',
    () => hub.counters.loads,
  );
  counter('stageplane_event_deliveries_total', 'Events handed to subscribers (one per subscriber per event)', () => hub.counters.delivered);
  counter('stageplane_subscriptions_dropped_total', 'Subscribers dropped as slow consumers', () => hub.counters.dropped);
  counter('stageplane_event_relistens_total', 'LISTEN connections re-established after a loss', () => hub.counters.relistens);
}

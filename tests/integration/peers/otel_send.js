// Exports metrics with the OpenTelemetry JS SDK over OTLP/HTTP protobuf to argv[2]
// (a full URL), once, then shuts down. Prints the timestamps it used as JSON.
const { MeterProvider, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');
const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-proto');
const resources = require('@opentelemetry/resources');

const resource = resources.resourceFromAttributes
  ? resources.resourceFromAttributes({
      'service.name': 'checkout',
      'service.instance.id': 'pod-7',
      'deployment.environment': 'test',
    })
  : new resources.Resource({
      'service.name': 'checkout',
      'service.instance.id': 'pod-7',
      'deployment.environment': 'test',
    });
const exporter = new OTLPMetricExporter({ url: process.argv[2] });
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3600000 });
const provider = new MeterProvider({ resource, readers: [reader] });
const meter = provider.getMeter('vigil-test');

const requests = meter.createCounter('http.requests', { unit: '{request}', description: 'Requests handled.' });
requests.add(5, { 'http.method': 'GET' });
requests.add(2, { 'http.method': 'POST' });
const latency = meter.createHistogram('http.latency', {
  unit: 'ms',
  advice: { explicitBucketBoundaries: [10, 100, 1000] },
});
for (const v of [5, 50, 50, 500, 5000]) latency.record(v, { route: '/cart' });
const temp = meter.createObservableGauge('room.temperature', { unit: 'Cel' });
temp.addCallback((r) => r.observe(21.5, { room: 'a' }));

(async () => {
  await reader.forceFlush();
  await provider.shutdown();
})().catch((e) => { console.error(e); process.exit(1); });

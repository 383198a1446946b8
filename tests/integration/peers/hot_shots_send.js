// Sends DogStatsD metrics with hot-shots to the port given as argv[2], then exits.
const StatsD = require('hot-shots');

const client = new StatsD({
  host: '127.0.0.1',
  port: Number(process.argv[2]),
  globalTags: { env: 'test' },
  errorHandler: (err) => { console.error('hot-shots:', err); process.exit(1); },
});
client.increment('hs.requests', 2, ['route:home']);
client.increment('hs.requests', 3, ['route:home']);
client.gauge('hs.queue_depth', 7, ['queue:q1']);
client.timing('hs.latency', 250, ['route:home']);
client.set('hs.users', 'alice');
client.set('hs.users', 'bob');
client.close((err) => {
  if (err) { console.error(err); process.exit(1); }
});

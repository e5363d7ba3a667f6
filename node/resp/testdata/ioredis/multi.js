// ioredis, unchanged, against geocache: multi() (MULTI/EXEC), a WATCH transaction that a
// concurrent write aborts, a queue-time error (EXECABORT), and a script by defineCommand
// (EVALSHA with the EVAL fallback). Prints "ok" or fails with the reason.
const Redis = require('ioredis');
const assert = require('assert');

async function main() {
  const [host, port] = [process.argv[2], Number(process.argv[3])];
  const r = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 0 });
  const other = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 0 });
  await r.connect();
  await other.connect();
  try {
    const res = await r.multi().set('io:a', '1').incr('io:a').get('io:a').exec();
    assert.deepStrictEqual(res, [[null, 'OK'], [null, 2], [null, '2']]);

    await r.watch('io:a');
    await other.set('io:a', '10');
    const aborted = await r.multi().set('io:a', '99').exec();
    assert.strictEqual(aborted, null, 'EXEC after a watched key changed must abort');
    assert.strictEqual(await r.get('io:a'), '10');

    await assert.rejects(r.multi().set('io:b', '1').call('nosuchcommand').exec(), /EXECABORT/);
    assert.strictEqual(await r.exists('io:b'), 0, 'an aborted transaction must write nothing');

    r.defineCommand('addTwo', { numberOfKeys: 1, lua: "return redis.call('INCRBY', KEYS[1], 2)" });
    assert.strictEqual(await r.addTwo('io:c'), 2);
    assert.strictEqual(await r.addTwo('io:c'), 4);
    console.log('ok');
  } finally {
    r.disconnect();
    other.disconnect();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });

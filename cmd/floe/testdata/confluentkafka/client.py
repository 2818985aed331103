"""confluent-kafka-python (librdkafka) against a floe broker; run by
cmd/floe's TestConfluentKafkaPython, which checks what this prints against
what the broker holds.

    python3 client.py BROKER TOPIC GROUP PRODUCE TOTAL

With the admin client: sets retention.ms=7200000 on TOPIC and the
dynamic broker config remote.log.manager.fetch.max.bytes.per.second=
33554432 on broker 0 (librdkafka's AlterConfigs), and checks that
DescribeConfigs gives both back (the latter as a dynamic broker config)
and lists the broker's num.partitions. Produces PRODUCE records (key ck-N, value
ck-value-N, header client=confluent-kafka) with an idempotent, zstd'd
producer; consumes TOTAL records of TOPIC from the beginning in consumer
group GROUP and prints each as a JSON line {p, o, k, v, h}; commits.
Prints "done" last.
"""
import json
import sys

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource

broker, topic, group = sys.argv[1:4]
produce, total = int(sys.argv[4]), int(sys.argv[5])

admin = AdminClient({'bootstrap.servers': broker})
COLD = 'remote.log.manager.fetch.max.bytes.per.second'
for f in admin.alter_configs([ConfigResource('topic', topic, set_config={'retention.ms': '7200000'}),
                              ConfigResource('broker', '0', set_config={COLD: '33554432'})]).values():
    f.result(timeout=30)
for res, f in admin.describe_configs([ConfigResource('topic', topic), ConfigResource('broker', '0')]).items():
    configs = f.result(timeout=30)
    if res.restype == ConfigResource.Type.TOPIC and configs['retention.ms'].value != '7200000':
        sys.exit('retention.ms %s after alter_configs' % configs['retention.ms'].value)
    if res.restype == ConfigResource.Type.BROKER and 'num.partitions' not in configs:
        sys.exit('the broker lists no num.partitions: %s' % sorted(configs))
    if res.restype == ConfigResource.Type.BROKER and (
            configs[COLD].value != '33554432' or configs[COLD].source != ConfigSource.DYNAMIC_BROKER_CONFIG.value):
        sys.exit('%s %s from source %s after alter_configs' % (COLD, configs[COLD].value, configs[COLD].source))

failed = []
producer = Producer({'bootstrap.servers': broker, 'enable.idempotence': True, 'acks': 'all',
                     'compression.type': 'zstd', 'linger.ms': 5})
for i in range(produce):
    producer.produce(topic, key=b'ck-%d' % i, value=b'ck-value-%d' % i, headers=[('client', b'confluent-kafka')],
                     on_delivery=lambda err, msg: err and failed.append(err))
    producer.poll(0)
if producer.flush(30) != 0 or failed:
    sys.exit('not acknowledged: %d left, errors %s' % (len(producer), failed[:3]))

consumer = Consumer({'bootstrap.servers': broker, 'group.id': group, 'auto.offset.reset': 'earliest',
                     'enable.auto.commit': False})
consumer.subscribe([topic])
seen = 0
for _ in range(600):  # polls of 100 ms: a minute
    m = consumer.poll(0.1)
    if m is None:
        continue
    if m.error():
        sys.exit('consume: %s' % m.error())
    print(json.dumps({'p': m.partition(), 'o': m.offset(),
                      'k': None if m.key() is None else m.key().decode(),
                      'v': None if m.value() is None else m.value().decode(),
                      'h': {name: value.decode() for name, value in (m.headers() or [])}}))
    seen += 1
    if seen == total:
        break
if seen != total:
    sys.exit('read %d of %d records in a minute' % (seen, total))
consumer.commit(asynchronous=False)
consumer.close()
print('done')

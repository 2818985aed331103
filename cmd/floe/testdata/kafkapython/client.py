"""kafka-python against a floe broker; run by cmd/floe's TestKafkaPython,
which checks what this prints against what the broker holds.

    python3 client.py BROKER TOPIC GROUP PRODUCE TOTAL

Produces PRODUCE records (key py-N, value py-value-N, header
client=kafka-python) with acks=all and gzip; consumes TOTAL records of TOPIC
from the beginning in consumer group GROUP and prints each as a JSON line
{p, o, k, v, h}; commits the offsets after the last record read; then, with
the admin client, sets retention.ms=7200000 on TOPIC (AlterConfigs) and
checks that GROUP is empty. Prints "done" last.
"""
import json
import sys

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType

broker, topic, group = sys.argv[1:4]
produce, total = int(sys.argv[4]), int(sys.argv[5])

producer = KafkaProducer(bootstrap_servers=broker, acks='all', compression_type='gzip', linger_ms=5)
futures = [producer.send(topic, key=b'py-%d' % i, value=b'py-value-%d' % i, headers=[('client', b'kafka-python')])
           for i in range(produce)]
producer.flush()
for f in futures:
    f.get(timeout=30)  # raises if the record was not acknowledged
producer.close()

consumer = KafkaConsumer(topic, bootstrap_servers=broker, group_id=group, auto_offset_reset='earliest',
                         enable_auto_commit=False, consumer_timeout_ms=60000)
seen = 0
for m in consumer:
    print(json.dumps({'p': m.partition, 'o': m.offset,
                      'k': None if m.key is None else m.key.decode(),
                      'v': None if m.value is None else m.value.decode(),
                      'h': {name: value.decode() for name, value in m.headers}}))
    seen += 1
    if seen == total:
        break
if seen != total:
    sys.exit('read %d of %d records in 60 s' % (seen, total))
consumer.commit()
consumer.close()

# The admin client probes the broker's version on two connections.
admin = KafkaAdminClient(bootstrap_servers=broker)
for res in admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={'retention.ms': '7200000'})]).resources:
    if res[0] != 0:
        sys.exit('alter_configs: error %d %s' % (res[0], res[1]))
for g in admin.describe_consumer_groups([group]):
    if g.error_code != 0 or g.state != 'Empty':
        sys.exit('describe_consumer_groups: %s' % (g,))
admin.close()
print('done')

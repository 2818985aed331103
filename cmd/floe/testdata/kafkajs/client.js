// kafkajs against a floe broker; run by cmd/floe's TestKafkaJS, which
// checks what this prints against what the broker holds.
//
//   node client.js BROKER TOPIC GROUP PRODUCE TOTAL
//
// Produces PRODUCE records (key js-N, value js-value-N, header client=kafkajs)
// with an idempotent producer, half the batches gzip'd; consumes TOTAL records
// of TOPIC from the beginning in consumer group GROUP and prints each as a
// JSON line {p, o, k, v, h}; commits the offsets after the last record read;
// then sets retention.ms=3600000 on TOPIC with AlterConfigs, and deletes
// partition 0's records below offset 2. Prints "done" last.
'use strict'
const { Kafka, logLevel, CompressionTypes } = require('kafkajs')

const [broker, topic, group, produceArg, totalArg] = process.argv.slice(2)
const produce = Number(produceArg)
const total = Number(totalArg)

const kafka = new Kafka({
  clientId: 'floe-kafkajs-check',
  brokers: [broker],
  logLevel: logLevel.WARN,
  retry: { retries: 8 },
})

async function main () {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  const perBatch = 50
  for (let first = 0; first < produce; first += perBatch) {
    const messages = []
    for (let i = first; i < Math.min(first + perBatch, produce); i++) {
      messages.push({ key: `js-${i}`, value: `js-value-${i}`, headers: { client: 'kafkajs' } })
    }
    const compression = (first / perBatch) % 2 === 0 ? CompressionTypes.GZIP : CompressionTypes.None
    await producer.send({ topic, messages, acks: -1, compression })
  }
  await producer.disconnect()

  const consumer = kafka.consumer({ groupId: group })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const next = new Map() // partition -> offset after the last record read
  let seen = 0
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${seen} of ${total} records in 60 s`)), 60000)
    consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const h = {}
        for (const [name, value] of Object.entries(message.headers || {})) h[name] = value.toString()
        console.log(JSON.stringify({
          p: partition,
          o: Number(message.offset),
          k: message.key === null ? null : message.key.toString(),
          v: message.value === null ? null : message.value.toString(),
          h,
        }))
        next.set(partition, Number(message.offset) + 1)
        if (++seen === total) {
          clearTimeout(timer)
          resolve()
        }
      },
    }).catch(reject)
  })
  await consumer.commitOffsets([...next].map(([partition, offset]) => ({ topic, partition, offset: String(offset) })))
  await consumer.disconnect()

  const admin = kafka.admin()
  await admin.connect()
  await admin.alterConfigs({
    validateOnly: false,
    resources: [{ type: 2 /* topic */, name: topic, configEntries: [{ name: 'retention.ms', value: '3600000' }] }],
  })
  await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '2' }] })
  await admin.disconnect()
  console.log('done')
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})

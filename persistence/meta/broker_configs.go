package meta

// Dynamic broker configs: the values an operator set at runtime through
// AlterConfigs or IncrementalAlterConfigs on a broker resource, which
// outlive a restart and take precedence over the broker's flags.
//
// One bucket, created by the first write rather than by Open, so a file
// written before these existed opens unchanged (the schema version stays 1):
//
//	"broker_configs": "broker:" + resource name → JSON map of name → value
//
// The resource name is a broker id, or "" for the cluster-wide default (as
// Kafka names them); the prefix keeps the latter's key non-empty, which
// bbolt requires.

import (
	"encoding/json"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

const (
	bucketBrokerConfigs    = "broker_configs"
	brokerConfigsKeyPrefix = "broker:"
)

// BrokerConfigs returns every stored set of dynamic broker configs by
// resource name ("" is the cluster-wide default).
func (s *Store) BrokerConfigs() (map[string]map[string]string, error) {
	out := make(map[string]map[string]string)
	err := s.view("read broker configs", func(tx *bolt.Tx) error {
		b := bucket(tx, bucketBrokerConfigs)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			resource, ok := strings.CutPrefix(string(k), brokerConfigsKeyPrefix)
			if !ok {
				return fmt.Errorf("%w: broker configs key %q", ErrCorrupt, k)
			}
			var configs map[string]string
			if err := json.Unmarshal(v, &configs); err != nil {
				return fmt.Errorf("%w: broker configs of %q: %v", ErrCorrupt, resource, err)
			}
			out[resource] = configs
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SetBrokerConfigs replaces the dynamic configs of one broker resource with
// configs; none removes the resource's record.
func (s *Store) SetBrokerConfigs(resource string, configs map[string]string) error {
	for name := range configs {
		if name == "" {
			return fmt.Errorf("%w: an empty broker config name", ErrInvalidArgument)
		}
	}
	return s.update("write broker configs", func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucketBrokerConfigs))
		if err != nil {
			return err
		}
		key := []byte(brokerConfigsKeyPrefix + resource)
		if len(configs) == 0 {
			return b.Delete(key)
		}
		value, err := json.Marshal(configs)
		if err != nil {
			return err
		}
		return b.Put(key, value)
	})
}

// Event Grid system topic on the storage account. The blob trigger (source EventGrid, the only blob
// trigger Flex Consumption supports) is fed by a blob-created subscription on this topic, filtered on the
// input container; scripts/post-up.sh creates it after deploy, when the blobs_extension key exists.
param name string
param location string
param tags object
param storageAccountId string

module systemTopic 'br/public:avm/res/event-grid/system-topic:0.6.1' = {
  name: 'system-topic'
  params: {
    name: name
    location: location
    tags: tags
    source: storageAccountId
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

output name string = systemTopic.outputs.name

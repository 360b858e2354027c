// Storage for the Functions host (AzureWebJobsStorage), the deployment package and the pipeline
// (PROVISIONING_STORAGE): shared-key access off, so every caller authenticates with Entra ID.
param name string
param location string
param tags object
@description('Blob containers: the deployment package, then the input, report and state containers.')
param containerNames array
@description('Queues: the work queue and its poison queue.')
param queueNames array

module account 'br/public:avm/res/storage/storage-account:0.8.3' = {
  name: 'storage-account'
  params: {
    name: name
    location: location
    tags: tags
    skuName: 'Standard_LRS'
    kind: 'StorageV2'
    allowSharedKeyAccess: false // identity-based connections only (functions.md section 3)
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    dnsEndpointType: 'Standard'
    // Public endpoint with Entra-only access: Event Grid, the Functions host and admins' `az storage
    // --auth-mode login` reach it. Private endpoints need a VNet-integrated plan (not in this template).
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    blobServices: {
      containers: [for container in containerNames: { name: container, publicAccess: 'None' }]
    }
    queueServices: {
      queues: [for queue in queueNames: { name: queue }]
    }
  }
}

output name string = account.outputs.name
output resourceId string = account.outputs.resourceId

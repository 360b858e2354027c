// The Function App on Flex Consumption (FC1), Python 3.11, run as the user-assigned managed identity.
// App settings: the host's storage and the pipeline's PROVISIONING_STORAGE connection as identity-based
// connections (no keys), Application Insights with Entra auth, and every PROVISIONING_* setting the code
// reads (tests/infra/test_bicep_settings.py checks the list against the code).
param name string
param location string
param tags object
param planId string
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string
param maximumInstanceCount int
param instanceMemoryMB int
@description('PROVISIONING_* settings from main.bicep, as name: value.')
param provisioningSettings object

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

var blobServiceUri = storageAccount.properties.primaryEndpoints.blob
var queueServiceUri = storageAccount.properties.primaryEndpoints.queue

// Identity-based connections (functions.md section 3). The blob trigger also needs the queue URI.
var connectionSettings = {
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: blobServiceUri
  AzureWebJobsStorage__queueServiceUri: queueServiceUri
  PROVISIONING_STORAGE__credential: 'managedidentity'
  PROVISIONING_STORAGE__clientId: identityClientId
  PROVISIONING_STORAGE__blobServiceUri: blobServiceUri
  PROVISIONING_STORAGE__queueServiceUri: queueServiceUri
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

var appSettings = [for setting in items(union(provisioningSettings, connectionSettings)): {
  name: setting.key
  value: setting.value
}]

module site 'br/public:avm/res/web/site:0.15.1' = {
  name: 'function-app'
  params: {
    name: name
    location: location
    tags: union(tags, { 'azd-service-name': 'provisioning' })
    kind: 'functionapp,linux'
    serverFarmResourceId: planId
    httpsOnly: true
    managedIdentities: {
      userAssignedResourceIds: [identityId]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobServiceUri}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        // Graph's write quota is per app and tenant, shared by every instance: more instances do not buy
        // more Graph throughput, they only meet 429s sooner (docs/deploy.md, "Throughput and throttling").
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: appSettings
    }
  }
}

output name string = site.outputs.name
output defaultHostname string = site.outputs.defaultHostname

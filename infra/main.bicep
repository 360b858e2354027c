// Entra ID authentication-method provisioning on Azure Functions Flex Consumption (azd: `azd up`).
// Layout follows the official Flex Consumption Python azd samples: subscription scope, one resource group,
// Azure Verified Modules pinned by version, the app's own pieces in app/*.bicep. docs/deploy.md walks through it.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; used for the resource group name and a short unique token in resource names.')
param environmentName string

@minLength(1)
@description('Region for every resource. It must offer Flex Consumption: az functionapp list-flexconsumption-locations.')
@metadata({ azd: { type: 'location' } })
param location string

@description('Object id of the person running azd (AZURE_PRINCIPAL_ID). Gets upload/report access to storage and may import the certificate. Empty: no deployer roles.')
param principalId string = ''

@allowed(['User', 'ServicePrincipal'])
@description('Kind of principalId: User for a person, ServicePrincipal for a pipeline identity.')
param principalType string = 'User'

// ---- The Graph app registration (docs/deploy.md, steps 1-2) ----
@description('Directory (tenant) id, or a verified domain, of the tenant whose users are provisioned; empty: the deployment tenant.')
param graphTenantId string = ''

@description('Application (client) id of the app registration holding the Graph application permissions.')
param graphClientId string

@allowed(['global', 'usgov', 'usgovdod', 'china'])
@description('Microsoft cloud of the tenant: picks the token authority and Graph root.')
param graphCloud string = 'global'

@description('Name of the Key Vault certificate the app signs its Graph token requests with.')
param certificateName string = 'graph-provisioning'

// ---- Pipeline behaviour (README, "Settings") ----
@description('ISO country code for numbers written without +CC (e.g. NL); empty: such numbers are row errors.')
param defaultRegion string = ''

@description('Largest accepted CSV, in bytes.')
param maxFileBytes int = 67108864

@description('Most data rows in one CSV.')
param maxRows int = 1000000

@description('Chunks in flight in the HTTP path; the HTTP pool holds 4 x this many connections (at least the 12 chunks host.json lets an instance run).')
param concurrency int = 16

@description('Seconds per Graph request.')
param httpTimeoutSeconds int = 30

@description('Attempts per Graph request on 429/503/504/transport errors.')
param maxAttempts int = 6

@description('Nightly sync schedule, NCRONTAB in UTC (Flex has no time zones).')
param syncSchedule string = '0 0 2 * * *'

@allowed(['fill', 'enforce'])
@description('fill: only empty methods; enforce: overwrite with the profile number.')
param syncMode string = 'fill'

@description('Object id of the group whose members are synced; empty: all users.')
param syncGroupId string = ''

@description('Also copy businessPhones[0] into the office method.')
param syncOffice bool = false

@description('The nightly job reports what it would do and writes nothing.')
param syncDryRun bool = true

// ---- The HTTP API (docs/servicenow.md) ----
@description('Empty: the HTTP API needs the function key only. Else the app ID URI (and/or client id) of the API app registration: provision and job status then also need an Entra bearer token for it.')
param apiAudience string = ''

@description('App role the bearer token must carry (when apiAudience is set).')
param apiRole string = 'Provisioning.Submit'

@description('HTTP API requests per minute per caller, per instance (the token\'s app, else the function key).')
param apiRatePerMinute int = 300

@description('Requests a caller may send at once before the per-minute rate applies.')
param apiBurst int = 30

// ---- Scale (docs/deploy.md, "Throughput and throttling") ----
@minValue(1)
@maxValue(1000)
@description('Most instances Flex may scale to. Graph write quotas are per app and tenant, shared by every instance: more instances do not raise them.')
param maximumInstanceCount int = 40

@allowed([512, 2048, 4096])
@description('Memory per instance in MB.')
param instanceMemoryMB int = 2048

@description('Key Vault purge protection. Keep true in production; false lets `azd down --purge` free the vault name at once.')
param keyVaultPurgeProtection bool = true

@description('Also grant Storage Table Data Contributor so the host can persist its diagnostic events (optional).')
param hostDiagnosticEvents bool = false

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = '${abbrs.webSitesFunctions}prov-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var names = {
  inputContainer: 'provisioning-input'
  reportContainer: 'provisioning-reports'
  stateContainer: 'provisioning-state'
  workQueue: 'provisioning-work'
}
var systemTopicName = '${abbrs.eventGridDomainsTopics}prov-${resourceToken}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

// The one identity of the app: storage (host and pipeline), Key Vault, Application Insights.
module identity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}prov-${resourceToken}'
    location: location
    tags: tags
  }
}

module plan 'br/public:avm/res/web/serverfarm:0.1.1' = {
  name: 'plan'
  scope: rg
  params: {
    name: '${abbrs.webServerFarms}prov-${resourceToken}'
    sku: {
      name: 'FC1'
      tier: 'FlexConsumption'
    }
    reserved: true
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    containerNames: [deploymentContainerName, names.inputContainer, names.reportContainer, names.stateContainer]
    queueNames: [names.workQueue, '${names.workQueue}-poison']
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}prov-${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}prov-${resourceToken}'
    location: location
    tags: tags
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}prov-${take(resourceToken, 13)}'
    location: location
    tags: tags
    purgeProtection: keyVaultPurgeProtection
  }
}

module functionApp 'app/function.bicep' = {
  name: 'function'
  scope: rg
  params: {
    name: functionAppName
    location: location
    tags: tags
    planId: plan.outputs.resourceId
    identityId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    provisioningSettings: {
      PROVISIONING_INPUT_CONTAINER: names.inputContainer
      PROVISIONING_REPORT_CONTAINER: names.reportContainer
      PROVISIONING_STATE_CONTAINER: names.stateContainer
      PROVISIONING_WORK_QUEUE: names.workQueue
      PROVISIONING_TENANT_ID: empty(graphTenantId) ? tenant().tenantId : graphTenantId
      PROVISIONING_CLIENT_ID: graphClientId
      PROVISIONING_CLOUD: graphCloud
      PROVISIONING_CERTIFICATE_KEYVAULT_URL: keyVault.outputs.uri
      PROVISIONING_CERTIFICATE_NAME: certificateName
      PROVISIONING_IDENTITY_CLIENT_ID: identity.outputs.clientId
      PROVISIONING_DEFAULT_REGION: defaultRegion
      PROVISIONING_MAX_FILE_BYTES: string(maxFileBytes)
      PROVISIONING_MAX_ROWS: string(maxRows)
      PROVISIONING_CONCURRENCY: string(concurrency)
      // Keep 1 in Azure: worker processes count each other (presence heartbeats in the state container)
      // and split Graph's per-app-and-tenant budget among the live ones. A static value here would divide
      // the budget a second time (docs/deploy.md, "Throughput and throttling").
      PROVISIONING_INSTANCES: '1'
      PROVISIONING_HTTP_TIMEOUT: string(httpTimeoutSeconds)
      PROVISIONING_MAX_ATTEMPTS: string(maxAttempts)
      PROVISIONING_SYNC_SCHEDULE: syncSchedule
      PROVISIONING_SYNC_MODE: syncMode
      PROVISIONING_SYNC_GROUP_ID: syncGroupId
      PROVISIONING_SYNC_OFFICE: string(syncOffice)
      PROVISIONING_SYNC_DRY_RUN: string(syncDryRun)
      PROVISIONING_API_AUDIENCE: apiAudience
      PROVISIONING_API_ROLE: apiRole
      PROVISIONING_API_RATE_PER_MINUTE: string(apiRatePerMinute)
      PROVISIONING_API_BURST: string(apiBurst)
    }
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultName: keyVault.outputs.name
    appPrincipalId: identity.outputs.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
    hostDiagnosticEvents: hostDiagnosticEvents
  }
}

// The system topic only; its blob-created subscription needs the blobs_extension key, which exists
// once the code is deployed, so scripts/post-up.sh (azd postdeploy hook) creates it.
module eventGrid 'app/eventgrid.bicep' = {
  name: 'eventgrid'
  scope: rg
  params: {
    name: systemTopicName
    location: location
    tags: tags
    storageAccountId: storage.outputs.resourceId
  }
}

// azd stores these in the environment; scripts/post-up.sh and docs/deploy.md read them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_HOSTNAME string = functionApp.outputs.defaultHostname
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_URI string = keyVault.outputs.uri
output EVENT_GRID_SYSTEM_TOPIC_NAME string = eventGrid.outputs.name
output PROVISIONING_INPUT_CONTAINER string = names.inputContainer
output PROVISIONING_REPORT_CONTAINER string = names.reportContainer
output PROVISIONING_CERTIFICATE_NAME string = certificateName
output CSV_DROP_FUNCTION_NAME string = 'csv_drop'

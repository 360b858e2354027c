// Key Vault (RBAC authorization) holding the Graph app's certificate. The certificate itself is created
// or imported by an admin after `azd up` (docs/deploy.md, step 4): no private key passes through
// a deployment, and nothing secret is an output.
param name string
param location string
param tags object
param purgeProtection bool

module vault 'br/public:avm/res/key-vault/vault:0.13.3' = {
  name: 'key-vault'
  params: {
    name: name
    location: location
    tags: tags
    sku: 'standard'
    enableRbacAuthorization: true // access policies off; roles are granted in rbac.bicep
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    enablePurgeProtection: purgeProtection
    enableVaultForDeployment: false
    enableVaultForTemplateDeployment: false
    enableVaultForDiskEncryption: false
    // Flex Consumption without VNet integration reaches the vault over its public endpoint; access is
    // by Entra ID and RBAC only. Key Vault references would fail on a network-restricted vault (functions.md 5).
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

output name string = vault.outputs.name
output uri string = vault.outputs.uri
output resourceId string = vault.outputs.resourceId

#!/bin/sh
# azd postdeploy hook: subscribe the blob trigger (csv_drop, source EventGrid) to blob-created events of
# the input container. Runs after every `azd deploy`/`azd up`; creating the subscription again updates it.
# Reads the outputs of infra/main.bicep, which azd puts in the environment.
set -eu

command -v az >/dev/null 2>&1 || { echo "post-up: 'az' (Azure CLI) is required (docs/deploy.md, prerequisites)" >&2; exit 1; }
for var in RESOURCE_GROUP AZURE_FUNCTION_APP_NAME AZURE_FUNCTION_APP_HOSTNAME EVENT_GRID_SYSTEM_TOPIC_NAME \
           PROVISIONING_INPUT_CONTAINER CSV_DROP_FUNCTION_NAME; do
  eval "value=\${$var:-}"
  [ -n "$value" ] || { echo "post-up: $var is not set; run through 'azd up' or 'azd deploy'" >&2; exit 1; }
done

# The key appears when the host has indexed the blob trigger; give a cold start a minute.
key=""
attempt=0
while [ -z "$key" ] && [ "$attempt" -lt 12 ]; do
  key=$(az functionapp keys list --name "$AZURE_FUNCTION_APP_NAME" --resource-group "$RESOURCE_GROUP" \
        --query "systemKeys.blobs_extension" --output tsv 2>/dev/null || true)
  if [ -z "$key" ]; then
    attempt=$((attempt + 1))
    echo "post-up: waiting for the blobs_extension key ($attempt/12)..."
    sleep 5
  fi
done
if [ -z "$key" ]; then
  # Show az's own error (not signed in, wrong subscription, ...), hidden while waiting above.
  az functionapp keys list --name "$AZURE_FUNCTION_APP_NAME" --resource-group "$RESOURCE_GROUP" --output none || true
  echo "post-up: no blobs_extension key; is ${CSV_DROP_FUNCTION_NAME} deployed? (az functionapp function list)" >&2
  exit 1
fi

endpoint="https://${AZURE_FUNCTION_APP_HOSTNAME}/runtime/webhooks/blobs?functionName=Host.Functions.${CSV_DROP_FUNCTION_NAME}&code=${key}"

# Event Grid validates the webhook (the blobs extension answers the handshake) before it is created.
az eventgrid system-topic event-subscription create \
  --name "csv-drop" \
  --resource-group "$RESOURCE_GROUP" \
  --system-topic-name "$EVENT_GRID_SYSTEM_TOPIC_NAME" \
  --endpoint-type webhook \
  --endpoint "$endpoint" \
  --included-event-types Microsoft.Storage.BlobCreated \
  --subject-begins-with "/blobServices/default/containers/${PROVISIONING_INPUT_CONTAINER}/" \
  --output none

echo "post-up: blob-created events of '${PROVISIONING_INPUT_CONTAINER}' now reach ${CSV_DROP_FUNCTION_NAME}."

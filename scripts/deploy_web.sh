#!/usr/bin/env bash
# Uploads the H5 client to the stack's web bucket and refreshes CloudFront's copy of index.html.
#   OIDC_AUTHORIZATION_ENDPOINT=… OIDC_TOKEN_ENDPOINT=… OIDC_CLIENT_ID=… \
#   scripts/deploy_web.sh <stack-name>     (AWS credentials and region from the environment)
# The OIDC_* settings are the identity provider's, for the client's sign-in (authorization code
# with PKCE); they go into /client-config.json beside the client.
# Assets carry content hashes in their names and are cached for a year; index.html is never
# cached, so a phone picks up a new release on its next visit.
set -euo pipefail
cd "$(dirname "$0")/.."
stack=${1:?usage: scripts/deploy_web.sh <stack-name>}
output() {
    aws cloudformation describe-stacks --stack-name "$stack" \
        --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
bucket=$(output WebBucketName)
distribution=$(output WebDistributionId)
config=$(python3 -c 'import json, os; print(json.dumps({
    "authorizationEndpoint": os.environ["OIDC_AUTHORIZATION_ENDPOINT"],
    "tokenEndpoint": os.environ["OIDC_TOKEN_ENDPOINT"],
    "clientId": os.environ["OIDC_CLIENT_ID"]}))') || { echo "set OIDC_AUTHORIZATION_ENDPOINT, OIDC_TOKEN_ENDPOINT and OIDC_CLIENT_ID"; exit 1; }
bash scripts/web_setup.sh
(cd web && npm run --silent build)
aws s3 sync web/dist/assets "s3://$bucket/assets" --delete \
    --cache-control "public, max-age=31536000, immutable"
aws s3 cp web/dist/index.html "s3://$bucket/index.html" --cache-control "no-cache"
printf '%s' "$config" | aws s3 cp - "s3://$bucket/client-config.json" \
    --content-type application/json --cache-control "no-cache"
aws cloudfront create-invalidation --distribution-id "$distribution" --paths /index.html >/dev/null
echo "the client is at $(output WebUrl)"

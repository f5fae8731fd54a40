#!/usr/bin/env bash
# Registers the two static clients the OpenID Foundation conformance suite needs for the
# oidcc-basic, oidcc-config and oidcc-rp-initiated-logout plans, and a test account, on the
# deployment whose configuration SERVICEKONTO_CONFIG (or the environment) names. Prints the
# values to paste into servicekonto-oidcc.json.
#   SUITE=https://www.certification.openid.net ALIAS=servicekonto ./setup-clients.sh
set -euo pipefail
SUITE="${SUITE:-https://localhost.emobix.co.uk:8443}"
ALIAS="${ALIAS:-servicekonto}"
BIN="${SERVICEKONTO_BIN:-servicekonto}"
cb="$SUITE/test/a/$ALIAS/callback"
logout="$SUITE/test/a/$ALIAS/post_logout_redirect"
for n in 1 2; do
  "$BIN" client add --json --name "OIDF conformance client $n" --client-id "oidf-$ALIAS-$n" \
    --redirect-uri "$cb" --post-logout-redirect-uri "$logout" \
    --grant-type authorization_code --grant-type refresh_token --subject-type public
done
"$BIN" client add --json --name "OIDF conformance client (post)" --client-id "oidf-$ALIAS-post" \
  --redirect-uri "$cb" --post-logout-redirect-uri "$logout" --auth-method client_secret_post \
  --grant-type authorization_code --grant-type refresh_token --subject-type public
"$BIN" account add --json --email "${OIDF_USER:-oidf@example.de}" --password "${OIDF_PASSWORD:?set OIDF_PASSWORD}" \
  --given-name Erika --family-name Mustermann --plus --birthdate 1964-08-12 \
  --street Heidestraße --house-number 17 --postal-code 51147 --city Köln

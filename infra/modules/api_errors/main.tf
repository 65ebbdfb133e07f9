# ---------------------------------------------------------------------------------------------------
# API Gateway's own answers in the API's error envelope. Before a request reaches the handler, API
# Gateway answers by itself: an unknown route (or method) with 403 "Missing Authentication Token",
# a throttled or oversized request, a Lambda that failed. Clients (the web app, scripts) read one
# envelope, {"error": {"code", "message", "field"}} (API.md), so these are rewritten here:
# - MISSING_AUTHENTICATION_TOKEN (no such route on a REST API) -> 404 not_found;
# - THROTTLED -> 429 rate_limited, REQUEST_TOO_LARGE -> 413 payload_too_large;
# - DEFAULT_4XX / DEFAULT_5XX (everything else API Gateway answers) keep their status, with the
#   envelope: a fixed message, never anything of the request (no token, header or path echoed).
# Wired in by the generated infra/app.tf (AWS stages only; the emulator's API is `chalice local`).
# ---------------------------------------------------------------------------------------------------
variable "rest_api_id" {
  description = "The REST API whose gateway responses are set."
  type        = string
}

locals {
  json_headers = {
    "gatewayresponse.header.Content-Type"                = "'application/json'"
    "gatewayresponse.header.Access-Control-Allow-Origin" = "'*'"
  }
  responses = {
    MISSING_AUTHENTICATION_TOKEN = {
      status  = "404"
      code    = "not_found"
      message = "no such route"
    }
    THROTTLED = {
      status  = "429"
      code    = "rate_limited"
      message = "too many requests; retry shortly"
    }
    REQUEST_TOO_LARGE = {
      status  = "413"
      code    = "payload_too_large"
      message = "the request body is too large"
    }
    DEFAULT_4XX = {
      status  = null # API Gateway's own status (429 throttled, 413 too large...)
      code    = "bad_request"
      message = "the request was refused before it reached the API"
    }
    DEFAULT_5XX = {
      status  = null
      code    = "dependency_unavailable"
      message = "the API is unavailable; retry shortly"
    }
  }
}

resource "aws_api_gateway_gateway_response" "envelope" {
  for_each      = local.responses
  rest_api_id   = var.rest_api_id
  response_type = each.key
  status_code   = each.value.status

  response_templates = {
    "application/json" = jsonencode({
      error = { code = each.value.code, message = each.value.message, field = null }
    })
  }
  response_parameters = local.json_headers
}

output "fingerprint" {
  description = "Changes whenever a response changes: the API's deployment is redone then (gateway responses take effect only in a new deployment)."
  value = md5(jsonencode({
    for k, r in aws_api_gateway_gateway_response.envelope :
    k => [r.status_code, r.response_templates, r.response_parameters]
  }))
}

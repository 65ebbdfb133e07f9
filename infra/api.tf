# ---------------------------------------------------------------------------------------------------
# The API's public URL: brokers redirect the trader's login back to <PUBLIC_API_URL>/brokers/<b>/
# callback, so it must be the address the world reaches. With api_domain_name (and a regional ACM
# certificate) it is that domain (infra/app.tf maps it to the API); otherwise the packaged module
# builds the API Gateway URL from the REST API's id in the same apply (localdev/package.py).
# ---------------------------------------------------------------------------------------------------
variable "api_domain_name" {
  description = "Custom domain of the API (e.g. api.example.com); empty: the API Gateway URL."
  type        = string
  default     = ""
}

variable "api_certificate_arn" {
  description = "ACM certificate for api_domain_name, in the deployment's region (REGIONAL endpoint)."
  type        = string
  default     = ""
}

variable "public_api_url" {
  description = "Override of the public base URL (e.g. behind your own proxy); empty: derived as above."
  type        = string
  default     = ""
}

variable "log_retention_days" {
  description = "Retention of every function's CloudWatch log group."
  type        = number
  default     = 30
}

locals {
  public_api_url = var.public_api_url != "" ? var.public_api_url : (
    var.api_domain_name != "" ? "https://${var.api_domain_name}" : ""
  )
}

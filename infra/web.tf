# ---------------------------------------------------------------------------------------------------
# Web app: the built bundle (web/dist) in a private S3 bucket behind CloudFront (HTTPS), with the
# runtime configuration as /config.json next to it (nothing is baked into the bundle). When the API's
# domain is given, CloudFront also serves the API under /api/* (Chalice's stage is "api"), so the app
# and the API share one origin and the browser needs no CORS at all.
# ---------------------------------------------------------------------------------------------------

variable "web_app_enabled" {
  description = "Whether to create the web app's bucket, CloudFront distribution and config.json."
  type        = bool
  default     = true
}

variable "web_dist_dir" {
  description = "Path of the built web app (web/dist) to upload; empty uploads only config.json."
  type        = string
  default     = ""
}

variable "web_api_domain" {
  description = "The API Gateway domain (<id>.execute-api.<region>.amazonaws.com) served under /api/*; empty: config.json points at web_api_url instead."
  type        = string
  default     = ""
}

variable "web_api_url" {
  description = "The API's base URL written to config.json when web_api_domain is empty."
  type        = string
  default     = ""
}

locals {
  web_count  = var.web_app_enabled ? 1 : 0
  web_bucket = "${var.app_name}-${var.stage}-web${var.name_suffix}-${data.aws_caller_identity.current.account_id}"
  # config.json's API: same origin under /api/*, else the given URL, else the API's custom domain.
  web_api_path = var.web_api_domain != "" ? "/api" : (var.web_api_url != "" ? var.web_api_url : local.public_api_url)
  web_files    = var.web_app_enabled && var.web_dist_dir != "" ? fileset(var.web_dist_dir, "**") : []
  web_types = {
    html = "text/html; charset=utf-8", js = "text/javascript", css = "text/css",
    json = "application/json", svg = "image/svg+xml", png = "image/png", ico = "image/x-icon",
    txt  = "text/plain"
  }
}

# S3 and CloudFront on the emulator through their own provider alias (providers.tf lists the
# platform's services; this file keeps the web app's concerns together).
provider "aws" {
  alias                       = "web"
  region                      = var.region
  access_key                  = local.emulated ? "test" : null
  secret_key                  = local.emulated ? "test" : null
  skip_credentials_validation = local.emulated
  skip_metadata_api_check     = local.emulated
  skip_requesting_account_id  = local.emulated
  s3_use_path_style           = local.emulated

  dynamic "endpoints" {
    for_each = local.emulated ? [var.aws_endpoint_url] : []
    content {
      cloudfront = endpoints.value
      s3         = endpoints.value
      sts        = endpoints.value
    }
  }

  default_tags {
    tags = {
      app   = var.app_name
      stage = var.stage
    }
  }
}

# ----- the bucket: private, reachable only through the distribution ---------------------------------
resource "aws_s3_bucket" "web" {
  provider      = aws.web
  count         = local.web_count
  bucket        = local.web_bucket
  force_destroy = true
}

resource "aws_s3_bucket_public_access_block" "web" {
  provider                = aws.web
  count                   = local.web_count
  bucket                  = aws_s3_bucket.web[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_cloudfront_origin_access_control" "web" {
  provider                          = aws.web
  count                             = local.web_count
  name                              = "${var.app_name}-${var.stage}-web${var.name_suffix}"
  description                       = "CloudFront reads the web app's bucket"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

data "aws_iam_policy_document" "web_bucket" {
  count = local.web_count
  statement {
    sid       = "CloudFrontReadsTheApp"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.web[0].arn}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.web[0].arn]
    }
  }
}

resource "aws_s3_bucket_policy" "web" {
  provider   = aws.web
  count      = local.web_count
  bucket     = aws_s3_bucket.web[0].id
  policy     = data.aws_iam_policy_document.web_bucket[0].json
  depends_on = [aws_s3_bucket_public_access_block.web]
}

# ----- the distribution: HTTPS only, the app from S3, the API under /api/* when given ----------------
resource "aws_cloudfront_distribution" "web" {
  provider            = aws.web
  count               = local.web_count
  enabled             = true
  comment             = "${var.app_name} ${var.stage} web app"
  default_root_object = "index.html"
  price_class         = "PriceClass_200" # includes India's edge locations
  wait_for_deployment = !local.emulated

  origin {
    origin_id                = "app"
    domain_name              = aws_s3_bucket.web[0].bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.web[0].id
  }

  dynamic "origin" {
    for_each = var.web_api_domain != "" ? [var.web_api_domain] : []
    content {
      origin_id   = "api"
      domain_name = origin.value
      custom_origin_config {
        http_port              = 80
        https_port             = 443
        origin_protocol_policy = "https-only"
        origin_ssl_protocols   = ["TLSv1.2"]
      }
    }
  }

  default_cache_behavior {
    target_origin_id       = "app"
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["GET", "HEAD"]
    cached_methods         = ["GET", "HEAD"]
    compress               = true
    forwarded_values {
      query_string = false
      cookies {
        forward = "none"
      }
    }
  }

  dynamic "ordered_cache_behavior" {
    for_each = var.web_api_domain != "" ? ["/api/*"] : []
    content {
      path_pattern           = ordered_cache_behavior.value
      target_origin_id       = "api"
      viewer_protocol_policy = "https-only"
      allowed_methods        = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
      cached_methods         = ["GET", "HEAD"]
      min_ttl                = 0
      default_ttl            = 0
      max_ttl                = 0
      forwarded_values {
        query_string = true
        headers      = ["Authorization", "Accept"]
        cookies {
          forward = "none"
        }
      }
    }
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
    minimum_protocol_version       = "TLSv1.2_2021"
  }
}

# ----- the runtime configuration and the bundle ------------------------------------------------------
resource "aws_s3_object" "web_config" {
  provider      = aws.web
  count         = local.web_count
  bucket        = aws_s3_bucket.web[0].id
  key           = "config.json"
  content_type  = "application/json"
  cache_control = "no-store"
  content = jsonencode({
    apiUrl           = local.web_api_path
    stage            = var.stage
    region           = var.region
    userPoolId       = aws_cognito_user_pool.users.id
    userPoolClientId = aws_cognito_user_pool_client.api.id
  })
}

resource "aws_s3_object" "web_files" {
  provider      = aws.web
  for_each      = local.web_files
  bucket        = aws_s3_bucket.web[0].id
  key           = each.value
  source        = "${var.web_dist_dir}/${each.value}"
  etag          = filemd5("${var.web_dist_dir}/${each.value}")
  content_type  = lookup(local.web_types, reverse(split(".", each.value))[0], "application/octet-stream")
  cache_control = startswith(each.value, "assets/") ? "public, max-age=31536000, immutable" : "no-cache"
}

output "web_app_url" {
  description = "The web app's HTTPS address (CloudFront); empty when web_app_enabled is false."
  value       = var.web_app_enabled ? "https://${aws_cloudfront_distribution.web[0].domain_name}" : ""
}

output "web_bucket" {
  description = "The bucket holding the built web app and its config.json."
  value       = var.web_app_enabled ? aws_s3_bucket.web[0].id : ""
}

output "web_distribution_id" {
  description = "The CloudFront distribution serving the web app (for cache invalidations)."
  value       = var.web_app_enabled ? aws_cloudfront_distribution.web[0].id : ""
}

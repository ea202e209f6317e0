locals {
  # Against LocalStack every service answers on one endpoint, with test credentials.
  on_localstack = var.localstack_endpoint != null
}

provider "aws" {
  region = var.region

  access_key                  = local.on_localstack ? "test" : null
  secret_key                  = local.on_localstack ? "test" : null
  skip_credentials_validation = local.on_localstack
  skip_metadata_api_check     = local.on_localstack
  skip_requesting_account_id  = local.on_localstack
  s3_use_path_style           = local.on_localstack

  dynamic "endpoints" {
    for_each = local.on_localstack ? [var.localstack_endpoint] : []
    content {
      s3         = endpoints.value
      sqs        = endpoints.value
      lambda     = endpoints.value
      iam        = endpoints.value
      cloudwatch = endpoints.value
      logs       = endpoints.value
      kms        = endpoints.value
      sts        = endpoints.value
    }
  }

  default_tags {
    tags = {
      project = var.project
    }
  }
}

# Server access logs of the three buckets below.
module "access_logs" {
  source      = "./modules/bucket"
  name        = "${var.project}-access-logs"
  kms_key_arn = aws_kms_key.main.arn
}

module "data" {
  source      = "./modules/bucket"
  name        = "${var.project}-data"
  kms_key_arn = aws_kms_key.main.arn
  log_bucket  = module.access_logs.id
}

module "models" {
  source      = "./modules/bucket"
  name        = "${var.project}-models"
  kms_key_arn = aws_kms_key.main.arn
  log_bucket  = module.access_logs.id
}

module "outputs" {
  source      = "./modules/bucket"
  name        = "${var.project}-outputs"
  kms_key_arn = aws_kms_key.main.arn
  log_bucket  = module.access_logs.id
}

# ---------------------------------------------------------------------------------------------------
# The NAT instance (egress_nat = "instance", the default way out for static_egress_ip): one
# t4g.nano in an auto-scaling group of one, in the first public subnet. At boot it turns on IP
# forwarding and masquerading, switches off its source/destination check, takes the Elastic IP
# (aws_eip.egress[0], the address the trader registers) and points the private route table's
# default route at its own network interface (nat_instance.sh.tftpl). The group replaces a
# failed instance; the replacement takes the same Elastic IP, so the registered IP never changes.
# Two alarms page when no instance is in service or its status checks fail.
# Limits: one zone (if it fails, orders wait for the zone, as the design's single static IP
# implies); a replacement takes about 1-2 minutes to boot, during which orders cannot leave.
# ---------------------------------------------------------------------------------------------------
variable "nat_instance_type" {
  description = "Instance type of the NAT instance (Graviton: an arm64 AMI is used)."
  type        = string
  default     = "t4g.nano"
}

variable "nat_ami_parameter" {
  description = "Public SSM parameter naming the NAT instance's AMI (Amazon Linux 2023, arm64: ships the AWS CLI)."
  type        = string
  default     = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
}

data "aws_ssm_parameter" "nat_ami" {
  count = local.nat_instance
  name  = var.nat_ami_parameter
}

resource "aws_security_group" "nat" {
  count       = local.nat_instance
  name        = "${local.name}-nat"
  description = "NAT instance: HTTPS in from the VPC, HTTP(S) out."
  vpc_id      = aws_vpc.egress[0].id
  ingress {
    description = "Broker and AWS API traffic from the private subnets"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }
  egress {
    description = "HTTPS to brokers and AWS APIs"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  egress {
    description = "HTTP for the package repositories at boot"
    from_port   = 80
    to_port     = 80
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

data "aws_iam_policy_document" "nat_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "nat" {
  count              = local.nat_instance
  name               = "${local.name}-nat"
  assume_role_policy = data.aws_iam_policy_document.nat_assume.json
}

# Just what the boot needs: take the Elastic IP, switch off its own source/destination check,
# write the private default route. Instances are matched by the tag the group puts on them.
data "aws_iam_policy_document" "nat" {
  count = local.nat_instance
  statement {
    sid       = "TakeTheEgressIp"
    actions   = ["ec2:AssociateAddress"]
    resources = ["arn:aws:ec2:${local.region}:${local.account_id}:elastic-ip/${aws_eip.egress[0].allocation_id}"]
  }
  statement {
    sid     = "ActOnItself"
    actions = ["ec2:AssociateAddress", "ec2:ModifyInstanceAttribute"]
    resources = [
      "arn:aws:ec2:${local.region}:${local.account_id}:instance/*",
      "arn:aws:ec2:${local.region}:${local.account_id}:network-interface/*",
    ]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Name"
      values   = ["${local.name}-nat"]
    }
  }
  statement {
    sid       = "RouteThePrivateSubnets"
    actions   = ["ec2:CreateRoute", "ec2:ReplaceRoute"]
    resources = [for t in aws_route_table.private : t.arn]
  }
}

resource "aws_iam_role_policy" "nat" {
  count  = local.nat_instance
  name   = "${local.name}-nat"
  role   = aws_iam_role.nat[0].id
  policy = data.aws_iam_policy_document.nat[0].json
}

resource "aws_iam_instance_profile" "nat" {
  count = local.nat_instance
  name  = "${local.name}-nat"
  role  = aws_iam_role.nat[0].name
}

resource "aws_launch_template" "nat" {
  count         = local.nat_instance
  name          = "${local.name}-nat"
  description   = "NAT instance carrying the broker-registered Elastic IP."
  image_id      = data.aws_ssm_parameter.nat_ami[0].insecure_value
  instance_type = local.engine > 0 ? var.engine_instance_type : var.nat_instance_type
  user_data = base64encode(join("\n", [templatefile("${path.module}/nat_instance.sh.tftpl", {
    region         = local.region
    vpc_cidr       = var.vpc_cidr
    allocation_id  = aws_eip.egress[0].allocation_id
    route_table_id = aws_route_table.private[0].id
  }), local.engine_boot]))
  iam_instance_profile {
    arn = aws_iam_instance_profile.nat[0].arn
  }
  # A public address until the boot swaps in the Elastic IP (that releases this one): the
  # instance needs a way out to reach the EC2 API before it holds the Elastic IP.
  network_interfaces {
    device_index                = 0
    associate_public_ip_address = true
    delete_on_termination       = true
    security_groups             = [aws_security_group.nat[0].id]
  }
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  tag_specifications {
    resource_type = "instance"
    tags          = { Name = "${local.name}-nat" }
  }
  tag_specifications {
    resource_type = "network-interface"
    tags          = { Name = "${local.name}-nat" }
  }
}

resource "aws_autoscaling_group" "nat" {
  count                     = local.nat_instance
  name                      = "${local.name}-nat"
  min_size                  = 1
  max_size                  = 1
  desired_capacity          = 1
  vpc_zone_identifier       = [aws_subnet.public[0].id]
  health_check_type         = "EC2"
  health_check_grace_period = 120
  enabled_metrics           = ["GroupInServiceInstances"]
  launch_template {
    id      = aws_launch_template.nat[0].id
    version = aws_launch_template.nat[0].latest_version
  }
  tag {
    key                 = "Name"
    value               = "${local.name}-nat"
    propagate_at_launch = true
  }
  depends_on = [aws_route_table_association.public]
}

resource "aws_cloudwatch_metric_alarm" "nat_in_service" {
  count               = local.nat_instance
  alarm_name          = "${local.name}-nat-down"
  alarm_description   = "No NAT instance in service: orders cannot reach the brokers from the registered IP."
  namespace           = "AWS/AutoScaling"
  metric_name         = "GroupInServiceInstances"
  dimensions          = { AutoScalingGroupName = aws_autoscaling_group.nat[0].name }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 2
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "nat_status_check" {
  count               = local.nat_instance
  alarm_name          = "${local.name}-nat-status-check"
  alarm_description   = "The NAT instance fails its status checks: the group will replace it; orders wait meanwhile."
  namespace           = "AWS/EC2"
  metric_name         = "StatusCheckFailed"
  dimensions          = { AutoScalingGroupName = aws_autoscaling_group.nat[0].name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

output "nat_autoscaling_group" {
  description = "The NAT instance's auto-scaling group (empty unless egress_nat = instance)."
  value       = local.nat_instance > 0 ? aws_autoscaling_group.nat[0].name : ""
}

output "nat_subnet_id" {
  description = "Public subnet of the NAT instance (empty unless egress_nat = instance)."
  value       = local.nat_instance > 0 ? aws_subnet.public[0].id : ""
}

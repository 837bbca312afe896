"""Infrastructure as code: Ansible and Terraform runs in containers, and their plans."""

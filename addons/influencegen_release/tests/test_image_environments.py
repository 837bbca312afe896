import json
import os
import shutil
import tempfile

from odoo.tests import tagged

from ..engine.delivery.image.registry import RegistryError
from ..engine.execution.docker_runner import ContainerSpec
from .common import ReleaseCase


@tagged("post_install", "-at_install", "services")  # services: runs a scanner container
class TestImageEnvironments(ReleaseCase):
    """Docker environments as registries and services (release.deployer.docker);
    the real build, push and deploy run in tests/integration/test_images.py."""

    def setUp(self):
        super().setUp()
        self.registry = self.env["release.environment"].create(
            {
                "name": "Test registry",
                "code": "test-registry",
                "kind": "docker",
                "tier": "production",
                "url": "registry.example.com:5000",
                "login": "ci",
                "credentials_ref": "param:igr_test.registry_password",
            }
        )

    def test_seed_scans_the_dockerfile_for_real_and_trivy_when_it_is_there(self):
        image = self.pipeline("PL-CONTAINER-IMG")
        tasks = {t.key: t for t in image.stage_ids.task_ids}
        self.assertEqual((tasks["dockerfile_scan"].mode, tasks["dockerfile_scan"].image), ("run", "influencegen/runner-iac:bookworm"))
        self.assertIn("--framework dockerfile", tasks["dockerfile_scan"].command)
        self.assertEqual(tasks["image_scan"].action, "image.scan")
        self.assertEqual(json.loads(tasks["image_scan"].action_params)["image"], "aquasec/trivy:0.56.2")
        criteria = json.loads(image.stage_ids.gate_ids.criteria_json)
        self.assertEqual([(c["from"], c["unknown"]) for c in criteria], [(["dockerfile_scan"], "fail"), (["image_scan"], "warn")])
        self.assertEqual([tasks[k].action for k in ("docker_build", "image_tag", "registry_login", "image_push")],
                         ["image.build", "image.tag", "registry.login", "image.push"])  # fmt: skip

    def test_registry_credentials_are_resolved_when_used_and_never_named(self):
        with self.assertRaisesRegex(RegistryError, r"param:igr_test.registry_password is not set or empty"):
            self.registry._deployer()._registry(self.registry)
        self.env["ir.config_parameter"].set_param("igr_test.registry_password", "s3cret")
        registry = self.registry._deployer()._registry(self.registry)
        self.assertEqual((registry.host, registry.base, registry.username), ("registry.example.com:5000", "https://registry.example.com:5000", "ci"))
        self.assertEqual(registry.auth_config, {"username": "ci", "password": "s3cret", "serveraddress": "registry.example.com:5000"})
        self.assertIsNone(self.registry._deployer()._registry(self.registry, anonymous=True).auth_config)
        self.registry.url = "http://registry.example.com:5000"
        with self.assertRaisesRegex(RegistryError, "plain HTTP is only allowed on a loopback host"):
            self.registry._deployer()._registry(self.registry)

    def test_an_image_never_pushed_is_not_deployed(self):
        artifact = self.env["release.artifact"].create(
            {"name": "app", "kind": "image", "version": "1.0.0", "manifest_json": json.dumps({"name": "app", "digest": None})}
        )
        deployment = self.registry._deploy(artifact)
        self.assertEqual(deployment.outcome, "error")
        self.assertEqual(deployment.error, "app was never pushed: there is no digest to deploy.")
        self.assertIn("Deploy of 1.0.0: failed.", self.registry.message_ids[0].body)
        self.assertFalse(self.registry.current_deployment_id)

    def test_a_docker_environment_deploys_only_images(self):
        artifact = self.env["release.artifact"].create({"name": "mods.zip", "kind": "odoo_modules", "version": "1.0.0"})
        deployment = self.registry._deploy(artifact)
        self.assertEqual((deployment.outcome, deployment.error), ("error", "odoo_modules artifacts cannot be deployed to docker."))

    def test_an_image_artifact_shows_its_registry_tags_and_digest(self):
        digest = "sha256:" + "ab" * 32
        manifest = {"name": "it/app", "repository": "127.0.0.1:5000/it/app", "tags": ["1.0.0", "stable"], "digest": digest, "image_id": "sha256:" + "cd" * 32}
        artifact = self.env["release.artifact"].create({"name": "it/app", "kind": "image", "sha256": "ab" * 32, "manifest_json": json.dumps(manifest)})
        self.assertEqual(
            (artifact.image_repository, artifact.image_tags, artifact.image_digest),
            ("127.0.0.1:5000/it/app", "1.0.0, stable", digest),
        )

    def test_a_scanner_container_runs_to_its_end_limited(self):
        """image.scan's container (real Docker): its /src and its report travel through the
        Docker API (no folder of the control plane is mounted); exit code and output come
        back, it is removed with its volume."""
        client = self.env["release.runner"].search([], limit=1)._client()
        root = tempfile.mkdtemp(prefix="igr-odoo-scan-")
        self.addCleanup(shutil.rmtree, root, True)
        with open(os.path.join(root, "image.tar"), "w", encoding="utf-8") as handle:
            handle.write("layers\n")
        name = f"igr-{self.env.cr.dbname}-scan-test"
        spec = ContainerSpec(
            name=name, image=self.env["release.settings"]._get("default_image"),
            command="cat /src/image.tar > /workspace/trivy.json; echo scanned; exit 3",
            labels={"influencegen.scan": "test"}, memory_mb=64, cpus=0.5, pids=32,
        )  # fmt: skip
        result = self.env["release.action.image"]._run_to_end(client, spec, 60, root, "trivy.json")
        self.assertEqual(result, (3, "scanned", b"layers\n"))
        self.assertFalse(client.volumes({"influencegen.scan": "test"}))
        self.assertEqual(client.find({"influencegen.scan": "test"}), {})

from lib.aisre_st2 import AisreAction

from aisre.models import ActionRequest, Target


class RestartDeployment(AisreAction):
    def run(self, service, deployment="", namespace="default", dry_run=False, requested_by="chatops"):
        request = ActionRequest(action="restart_deployment", service=service, requested_by=requested_by,
                                target=Target(kind="kubernetes", name=deployment or service, namespace=namespace),
                                reason=f"manual restart requested by {requested_by}")
        return self.respond(self.runtime.remediate, request.to_dict(), dry_run=dry_run)

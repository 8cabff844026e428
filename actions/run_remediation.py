from lib.aisre_st2 import AisreAction


class RunRemediation(AisreAction):
    def run(self, request, service, dry_run=False, approved_by=""):
        # `service` is a separate parameter so the action.concurrency.attr policy can key on it.
        if request.get("service") != service:
            return False, {"error": "ValidationError", "message": "service does not match the request"}
        ok, result = self.respond(self.runtime.remediate, request, dry_run=dry_run, approved_by=approved_by)
        return ok and bool(result.get("ok")), result

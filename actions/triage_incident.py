from lib.aisre_st2 import AisreAction


class TriageIncident(AisreAction):
    def run(self, incident_id):
        return self.respond(self.runtime.triage, incident_id)

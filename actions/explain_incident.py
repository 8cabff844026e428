from lib.aisre_st2 import AisreAction


class ExplainIncident(AisreAction):
    def run(self, incident_id):
        return self.respond(self.chatops.explain, incident_id)

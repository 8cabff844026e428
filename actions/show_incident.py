from lib.aisre_st2 import AisreAction


class ShowIncident(AisreAction):
    def run(self, incident_id):
        return self.respond(self.chatops.incident, incident_id)

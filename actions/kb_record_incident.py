from lib.aisre_st2 import AisreAction


class KbRecordIncident(AisreAction):
    def run(self, incident_id, outcome=""):
        return self.respond(self.runtime.kb_record_incident, incident_id, outcome)

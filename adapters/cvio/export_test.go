package cvio

import "callconnect/domain"

// The whole-body parsers with another recording limit than the default,
// for the tests that compare them with the streaming reader.

func ParseTaskCallbackMax(body []byte, maxAudio int64) (domain.TaskCallback, error) {
	return parseTaskCallback(&jsonReader{data: body, maxAudio: maxAudio})
}

func ParseLeadCallbackMax(body []byte, maxAudio int64) (domain.LeadCallback, error) {
	return parseLeadCallback(&jsonReader{data: body, maxAudio: maxAudio})
}

func ParseResultCallbackMax(body []byte, maxAudio int64) (domain.ResultCallback, error) {
	return parseResultCallback(&jsonReader{data: body, maxAudio: maxAudio})
}

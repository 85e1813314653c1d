import { useState } from "react";
import { useNavigate } from "react-router";
import { useMutation, useQuery } from "@apollo/client/react";
import { graphql } from "../../gql";
import { useT } from "../../i18n";
import { RoomRow, activityOf } from "../../components/RoomRow";
import { MemberPicker } from "../../components/MemberPicker";
import { ErrorText } from "../../components/ErrorText";
import { addRoom } from "../../components/cacheEdits";

const RoomsQuery = graphql(`
  query RoomsScreen($after: Cursor) {
    viewer { id }
    rooms(first: 50, after: $after) {
      edges { node { ...RoomRow } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

const CreateGroup = graphql(`
  mutation CreateGroup($input: CreateRoomInput!) {
    createRoom(input: $input) { ...RoomRow }
  }
`);

export function Rooms() {
  const t = useT();
  const navigate = useNavigate();
  const { data, error, fetchMore } = useQuery(RoomsQuery, { fetchPolicy: "cache-and-network" });
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState("");
  const [create] = useMutation(CreateGroup);
  const rooms = (data?.rooms.edges ?? [])
    .map((e) => e!.node!)
    .filter(Boolean)
    .sort((a, b) => activityOf(b) - activityOf(a));
  return (
    <section aria-labelledby="rooms-title">
      <header className="screen-head">
        <h1 id="rooms-title">{t.rooms}</h1>
        <button type="button" onClick={() => setCreating(true)}>
          {t.newGroup}
        </button>
      </header>
      <ErrorText error={!data && error} />
      {data && rooms.length === 0 && <p className="empty">{t.noRooms}</p>}
      <ul className="rooms">
        {rooms.map((r) => (
          <RoomRow key={r.id} room={r} viewerId={data!.viewer?.id ?? ""} />
        ))}
      </ul>
      {data?.rooms.pageInfo.hasNextPage && (
        <button type="button" onClick={() => void fetchMore({ variables: { after: data.rooms.pageInfo.endCursor } })}>
          …
        </button>
      )}
      {creating && (
        <MemberPicker
          title={t.newGroup}
          submitLabel={t.create}
          onCancel={() => setCreating(false)}
          onSubmit={(ids) =>
            create({
              variables: { input: { memberIds: ids, name: name.trim() || undefined } },
              update: (cache, { data: res }) => res && addRoom(cache, res.createRoom),
            }).then((res) => {
              setCreating(false);
              if (res.data) navigate(`/rooms/${res.data.createRoom.id}`);
            })
          }
        >
          <label>
            {t.groupName}
            <input value={name} onChange={(e) => setName(e.target.value)} required />
          </label>
        </MemberPicker>
      )}
    </section>
  );
}

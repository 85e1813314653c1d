import { useSyncExternalStore } from "react";
import { Navigate, Route, Routes, useLocation } from "react-router";
import { session } from "./apollo";
import { Live } from "./components/Live";
import { Nav } from "./components/Nav";
import { ConnectionBanner } from "./components/ConnectionBanner";
import { SignIn } from "./screens/SignIn/SignIn";
import { SignUp } from "./screens/SignUp/SignUp";
import { OAuthCallback } from "./screens/OAuthCallback/OAuthCallback";
import { Rooms } from "./screens/Rooms/Rooms";
import { Chat } from "./screens/Chat/Chat";
import { Friends } from "./screens/Friends/Friends";
import { Profile } from "./screens/Profile/Profile";

export function App() {
  const s = useSyncExternalStore(session.subscribe, session.get);
  const location = useLocation();
  if (!s) {
    return (
      <Routes>
        <Route path="/signin" element={<SignIn />} />
        <Route path="/signup" element={<SignUp />} />
        <Route path="/oauth/:provider" element={<OAuthCallback />} />
        <Route path="*" element={<Navigate to="/signin" replace state={{ from: location.pathname }} />} />
      </Routes>
    );
  }
  return (
    <div className="shell">
      <Live />
      <ConnectionBanner />
      <main className="screen">
        <Routes>
          <Route path="/" element={<Rooms />} />
          <Route path="/rooms/:id" element={<Chat />} />
          <Route path="/friends" element={<Friends />} />
          <Route path="/profile" element={<Profile />} />
          <Route path="*" element={<Navigate to="/" replace />} />
        </Routes>
      </main>
      <Nav />
    </div>
  );
}
